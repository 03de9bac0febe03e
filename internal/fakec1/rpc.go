package fakec1

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"

	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// batonService implements BatonService on behalf of Server. It is a separate
// type so Server's exported method set stays the test-facing API.
type batonService struct {
	v1.UnimplementedBatonServiceServer
	s *Server
}

// runningTaskLocked looks up a task the client may report on: it must exist
// and have been handed out. s.mu must be held.
func (s *Server) runningTaskLocked(method, id string) (*taskState, error) {
	ts, ok := s.tasks[id]
	if !ok {
		return nil, errors.New(method + ": unknown task id " + id)
	}
	if !ts.handedOut {
		return nil, errors.New(method + ": task " + id + " was never handed out")
	}
	return ts, nil
}

func (b *batonService) Hello(_ context.Context, req *v1.BatonServiceHelloRequest) (*v1.BatonServiceHelloResponse, error) {
	s := b.s
	if id := req.GetTaskId(); id != "" {
		s.mu.Lock()
		_, err := s.runningTaskLocked("Hello", id)
		s.mu.Unlock()
		if err != nil {
			s.recordErr("%v", err)
			return nil, status.Error(codes.NotFound, err.Error())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hellos = append(s.hellos, proto.CloneOf(req))
	s.notifyLocked()
	return &v1.BatonServiceHelloResponse{}, nil
}

// takeLocked pops up to n queued tasks (all when n is 0). s.mu must be held.
func (s *Server) takeLocked(n int) []*v1.Task {
	if n <= 0 || n > len(s.queue) {
		n = len(s.queue)
	}
	out := make([]*v1.Task, 0, n)
	for _, id := range s.queue[:n] {
		ts := s.tasks[id]
		ts.handedOut = true
		out = append(out, proto.CloneOf(ts.task))
	}
	s.queue = s.queue[n:]
	if n > 0 {
		s.notifyLocked()
	}
	return out
}

func (b *batonService) GetTask(context.Context, *v1.BatonServiceGetTaskRequest) (*v1.BatonServiceGetTaskResponse, error) {
	b.s.mu.Lock()
	tasks := b.s.takeLocked(1)
	b.s.mu.Unlock()
	resp := v1.BatonServiceGetTaskResponse_builder{
		NextPoll:      durationpb.New(nextPoll),
		NextHeartbeat: durationpb.New(nextHeartbeat),
	}
	if len(tasks) == 1 {
		resp.Task = tasks[0]
	}
	return resp.Build(), nil
}

// GetTasks serves the batched path the SDK uses when BATON_GET_TASKS=true.
// Handed-out tasks leave the queue, so known_task_ids never repeat.
func (b *batonService) GetTasks(_ context.Context, req *v1.BatonServiceGetTasksRequest) (*v1.BatonServiceGetTasksResponse, error) {
	b.s.mu.Lock()
	tasks := b.s.takeLocked(int(req.GetPageSize()))
	b.s.mu.Unlock()
	return v1.BatonServiceGetTasksResponse_builder{
		Tasks:         tasks,
		NextPoll:      durationpb.New(nextPoll),
		NextHeartbeat: durationpb.New(nextHeartbeat),
	}.Build(), nil
}

func (b *batonService) Heartbeat(_ context.Context, req *v1.BatonServiceHeartbeatRequest) (*v1.BatonServiceHeartbeatResponse, error) {
	s := b.s
	ids := req.GetTaskIds()
	if req.GetTaskId() != "" {
		ids = append([]string{req.GetTaskId()}, ids...)
	}
	if len(ids) == 0 {
		s.recordErr("Heartbeat without a task id")
		return nil, status.Error(codes.InvalidArgument, "no task id")
	}
	var cancelledIDs []string
	var unknown error
	s.mu.Lock()
	for _, id := range ids {
		// A heartbeat may still arrive just after FinishTask (the SDK's
		// heartbeat goroutine stops only when the handler returns), so
		// finished tasks are not an error here.
		ts, err := s.runningTaskLocked("Heartbeat", id)
		if err != nil {
			unknown = err
			continue
		}
		ts.heartbeats++
		if ts.cancelled {
			cancelledIDs = append(cancelledIDs, id)
		}
	}
	cancelled := req.GetTaskId() != "" && s.tasks[req.GetTaskId()] != nil && s.tasks[req.GetTaskId()].cancelled
	s.notifyLocked()
	s.mu.Unlock()
	if unknown != nil {
		s.recordErr("%v", unknown)
		return nil, status.Error(codes.NotFound, unknown.Error())
	}
	return v1.BatonServiceHeartbeatResponse_builder{
		NextHeartbeat:    durationpb.New(nextHeartbeat),
		Cancelled:        cancelled,
		CancelledTaskIds: cancelledIDs,
	}.Build(), nil
}

func (b *batonService) FinishTask(_ context.Context, req *v1.BatonServiceFinishTaskRequest) (*v1.BatonServiceFinishTaskResponse, error) {
	s := b.s
	s.mu.Lock()
	ts, err := s.runningTaskLocked("FinishTask", req.GetTaskId())
	code := codes.NotFound
	if err == nil && ts.finished != nil {
		err, code = errors.New("FinishTask: task "+req.GetTaskId()+" finished twice"), codes.FailedPrecondition
	}
	if err == nil {
		ts.finished = proto.CloneOf(req)
		s.notifyLocked()
	}
	s.mu.Unlock()
	if err != nil {
		s.recordErr("%v", err)
		return nil, status.Error(code, err.Error())
	}
	return &v1.BatonServiceFinishTaskResponse{}, nil
}

// UploadAsset receives Metadata, then Data chunks, then Eof carrying the
// SHA-256 of the whole asset, then the client's half-close.
func (b *batonService) UploadAsset(stream grpc.ClientStreamingServer[v1.BatonServiceUploadAssetRequest, v1.BatonServiceUploadAssetResponse]) error {
	s := b.s
	const method = "UploadAsset"
	violation := func(format string, args ...any) error {
		s.recordErr(method+": "+format, args...)
		return status.Errorf(codes.InvalidArgument, format, args...)
	}

	var taskID string
	var buf bytes.Buffer
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return violation("stream closed before Eof (task %q)", taskID)
		}
		if err != nil {
			return err // the client went away; its retry will be judged on its own
		}
		if err := s.validate(method, msg); err != nil {
			return err
		}
		switch msg.WhichMsg() {
		case v1.BatonServiceUploadAssetRequest_Metadata_case:
			if taskID != "" {
				return violation("second Metadata message (task %q)", taskID)
			}
			taskID = msg.GetMetadata().GetTaskId()
			s.mu.Lock()
			_, err := s.runningTaskLocked(method, taskID)
			s.mu.Unlock()
			if err != nil {
				s.recordErr("%v", err)
				return status.Error(codes.NotFound, err.Error())
			}
		case v1.BatonServiceUploadAssetRequest_Data_case:
			if taskID == "" {
				return violation("Data before Metadata")
			}
			buf.Write(msg.GetData().GetData())
		case v1.BatonServiceUploadAssetRequest_Eof_case:
			if taskID == "" {
				return violation("Eof before Metadata")
			}
			sum := sha256.Sum256(buf.Bytes())
			if !bytes.Equal(sum[:], msg.GetEof().GetSha256Checksum()) {
				return violation("sha256 mismatch for task %q: got %x, data hashes to %x", taskID, msg.GetEof().GetSha256Checksum(), sum)
			}
			if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
				if err != nil {
					return err
				}
				return violation("message after Eof (task %q)", taskID)
			}
			s.mu.Lock()
			ts := s.tasks[taskID]
			ts.uploads = append(ts.uploads, buf.Bytes())
			s.notifyLocked()
			s.mu.Unlock()
			return stream.SendAndClose(&v1.BatonServiceUploadAssetResponse{})
		default:
			return violation("empty message (task %q)", taskID)
		}
	}
}
