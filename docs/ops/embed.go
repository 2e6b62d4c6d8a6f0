// Package ops embeds the DR documents casino dr needs into the binary, so
// declare, scenario and close work from any folder: the proof template, the
// runbook and the RTO/RPO targets. Files on disk override them; the proof
// records which source was used, and the template's and targets' exact bytes.
package ops

import _ "embed"

// Template is restore_drill_proof/template.md, the canonical proof template.
//
//go:embed restore_drill_proof/template.md
var Template []byte

// Runbook is dr_runbook.md, whose scenario sections dr scenario prints.
//
//go:embed dr_runbook.md
var Runbook []byte

// Targets is dr_targets.json, the RTO/RPO targets per scenario.
//
//go:embed dr_targets.json
var Targets []byte
