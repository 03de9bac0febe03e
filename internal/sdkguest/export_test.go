package sdkguest

var WithSocketHint = withSocketHint
