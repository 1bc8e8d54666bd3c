// Package ocsf encodes records as Open Cybersecurity Schema Framework
// (OCSF 1.3) events in JSON, one object per record.
//
// A record is a Base Event (category 0, class 0) of activity "Other"
// (99) named after the record's action: OCSF has no class for an audit
// trail's own records, and the base event keeps every receiver able to
// read them. Mapped: time (ms) and time_dt, severity_id (debug and info 1
// Informational, warning 3 Medium, error 4 High, critical 5 Critical),
// message (the reason, else action and target), actor.user.name,
// metadata (version, product, uid = record_id, sequence, log_name = the
// log id when given). Everything else of the record — record_hash,
// previous_hash, target, target_type, source, classification, context,
// metadata, findings, violations — is under "unmapped", so nothing is
// lost.
package ocsf

import (
	"encoding/json"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
)

// SchemaVersion is the OCSF version the events follow.
const SchemaVersion = "1.3.0"

type event struct {
	ActivityID   int            `json:"activity_id"`
	ActivityName string         `json:"activity_name"`
	CategoryUID  int            `json:"category_uid"`
	CategoryName string         `json:"category_name"`
	ClassUID     int            `json:"class_uid"`
	ClassName    string         `json:"class_name"`
	TypeUID      int            `json:"type_uid"`
	TypeName     string         `json:"type_name"`
	SeverityID   int            `json:"severity_id"`
	Severity     string         `json:"severity"`
	Time         int64          `json:"time"`
	TimeDT       string         `json:"time_dt"`
	Message      string         `json:"message"`
	Actor        actor          `json:"actor"`
	Metadata     metadata       `json:"metadata"`
	Unmapped     map[string]any `json:"unmapped"`
}

type actor struct {
	User struct {
		Name string `json:"name"`
	} `json:"user"`
}

type metadata struct {
	Version  string  `json:"version"`
	UID      string  `json:"uid"`
	Sequence uint64  `json:"sequence"`
	LogName  string  `json:"log_name,omitempty"`
	Product  product `json:"product"`
}

type product struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
}

// Encoder returns the encoder of records of the log logID.
func Encoder(logID string) func(dst []byte, r *audit.Record) ([]byte, error) {
	return func(dst []byte, r *audit.Record) ([]byte, error) { return encode(dst, r, logID) }
}

// Encode appends r's OCSF event to dst, as one line of JSON.
func Encode(dst []byte, r *audit.Record) ([]byte, error) { return encode(dst, r, "") }

func encode(dst []byte, r *audit.Record, logID string) ([]byte, error) {
	id, name := severity(r.Severity)
	msg := r.Reason
	if msg == "" {
		msg = strings.TrimSpace(r.Action + " " + r.Target)
	}
	e := event{
		ActivityID: 99, ActivityName: r.Action,
		CategoryUID: 0, CategoryName: "Uncategorized",
		ClassUID: 0, ClassName: "Base Event",
		TypeUID: 99, TypeName: "Base Event: Other",
		SeverityID: id, Severity: name,
		Time: r.Timestamp.UnixMilli(), TimeDT: audit.FormatTime(r.Timestamp),
		Message: msg,
		Metadata: metadata{Version: SchemaVersion, UID: r.RecordID, Sequence: r.Sequence, LogName: logID,
			Product: product{Name: "ami-audit", VendorName: "AMI"}},
		Unmapped: map[string]any{
			"record_hash": r.RecordHash, "previous_hash": r.PreviousHash,
			"target": r.Target, "target_type": r.TargetType, "source": r.Source,
			"classification": r.Classification, "context": r.Context, "metadata": r.Metadata,
		},
	}
	e.Actor.User.Name = r.Actor
	if len(r.Findings) > 0 {
		e.Unmapped["findings"] = r.Findings
	}
	if len(r.Violations) > 0 {
		e.Unmapped["violations"] = r.Violations
	}
	b, err := json.Marshal(e)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func severity(s audit.Severity) (int, string) {
	switch s {
	case audit.SeverityWarning:
		return 3, "Medium"
	case audit.SeverityError:
		return 4, "High"
	case audit.SeverityCritical:
		return 5, "Critical"
	}
	return 1, "Informational"
}
