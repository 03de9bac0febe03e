package fuel

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
)

// Value types (one byte each in WebAssembly 2.0) and the function type's
// form.
const (
	typeI32       = 0x7f
	typeI64       = 0x7e
	typeF32       = 0x7d
	typeF64       = 0x7c
	typeV128      = 0x7b
	typeFuncref   = 0x70
	typeExternref = 0x6f
	formFunc      = 0x60
)

// Block types as the signed 33-bit numbers their bytes decode to.
const (
	blockEmpty     = -0x40
	blockI32       = -0x01
	blockI64       = -0x02
	blockF32       = -0x03
	blockF64       = -0x04
	blockV128      = -0x05
	blockFuncref   = -0x10
	blockExternref = -0x11
	blockRefNull   = -0x1d // 0x63
	blockRef       = -0x1c // 0x64
)

// Import and export kinds.
const (
	kindFunc   = 0x00
	kindTable  = 0x01
	kindMemory = 0x02
	kindGlobal = 0x03
)

// Opcodes with immediates or a role in the rewrite; the numeric opcodes
// without immediates are the ranges in skipInstr.
const (
	opUnreachable     = 0x00
	opNop             = 0x01
	opBlock           = 0x02
	opLoop            = 0x03
	opIf              = 0x04
	opElse            = 0x05
	opEnd             = 0x0b
	opBr              = 0x0c
	opBrIf            = 0x0d
	opBrTable         = 0x0e
	opReturn          = 0x0f
	opCall            = 0x10
	opCallIndirect    = 0x11
	opDrop            = 0x1a
	opSelect          = 0x1b
	opSelectTyped     = 0x1c
	opLocalGet        = 0x20
	opLocalSet        = 0x21
	opLocalTee        = 0x22
	opGlobalGet       = 0x23
	opGlobalSet       = 0x24
	opTableGet        = 0x25
	opTableSet        = 0x26
	opFirstLoadStore  = 0x28 // i32.load
	opLastLoadStore   = 0x3e // i64.store32
	opMemorySize      = 0x3f
	opMemoryGrow      = 0x40
	opI32Const        = 0x41
	opI64Const        = 0x42
	opF32Const        = 0x43
	opF64Const        = 0x44
	opFirstNumeric    = 0x45 // i32.eqz
	opLastNumeric     = 0xc4 // i64.extend32_s (sign extension included)
	opI32Eqz          = 0x45
	opI32Sub          = 0x6b
	opRefNull         = 0xd0
	opRefIsNull       = 0xd1
	opRefFunc         = 0xd2
	prefixMisc        = 0xfc
	prefixSIMD        = 0xfd
	miscLastTruncSat  = 0x07
	miscMemoryInit    = 0x08
	miscDataDrop      = 0x09
	miscMemoryCopy    = 0x0a
	miscMemoryFill    = 0x0b
	miscTableInit     = 0x0c
	miscElemDrop      = 0x0d
	miscTableCopy     = 0x0e
	miscTableGrow     = 0x0f
	miscTableSize     = 0x10
	miscTableFill     = 0x11
	simdLastLoad      = 0x0b // v128.load .. v128.store
	simdConst         = 0x0c
	simdShuffle       = 0x0d
	simdFirstLane     = 0x15 // i8x16.extract_lane_s
	simdLastLane      = 0x22 // f64x2.replace_lane
	simdFirstLoadLane = 0x54 // v128.load8_lane
	simdLastLoadLane  = 0x5b // v128.store64_lane
	simdLoad32Zero    = 0x5c
	simdLoad64Zero    = 0x5d
)
