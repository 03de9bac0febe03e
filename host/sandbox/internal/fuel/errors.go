package fuel

import "fmt"

// RefusedError says why a module was refused and where: the section and
// the byte offset in the module as given, so the bytes can be found with
// any hex dump or `wasm-objdump -x`.
type RefusedError struct {
	Section string // "type", "code", ... or "module" for the header and the section list
	Offset  int
	Reason  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s section at byte %d (%#x): %s", e.Section, e.Offset, e.Offset, e.Reason)
}

// sectionNames name the sections in errors, as the specification does.
var sectionNames = [...]string{
	secCustom: "custom", secType: "type", secImport: "import", secFunction: "function",
	secTable: "table", secMemory: "memory", secGlobal: "global", secExport: "export",
	secStart: "start", secElement: "element", secCode: "code", secData: "data",
	secDataCount: "data count",
}

func sectionName(id byte) string {
	if int(id) < len(sectionNames) {
		return sectionNames[id]
	}
	return fmt.Sprintf("unknown (id %d)", id)
}
