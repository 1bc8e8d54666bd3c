// Package compliance holds the control catalogs the trail is assessed
// against and the vocabulary of an assessment.
//
// # Catalogs
//
// A catalog is a data file (catalogs/*.yaml, shipped in the binary; a
// directory of the user's own files replaces or adds catalogs by id): a
// framework's controls, each with its id and title as the framework gives
// them, a description in our words, and the evidence that satisfies it.
// Evidence is a list of requirements, each of one kind:
//
//   - records: records of the period with given actions, sources or
//     target types (at least Min), the newest within Freshness;
//   - analyzer: an analyzer's conclusions are in the trail (its finding
//     or resolution records, or a successful scheduled run of it), and
//     none of its open findings reaches FailOn (a policy violation);
//   - integrity: a fact about the trail itself — verified, signed,
//     cosigned, signatures, schedule, clock, retention.
//
// The built-in catalogs are the specification's mapping table exactly as
// written (SPEC §12: EU AI Act Art. 12/13/14, ISO/IEC 42001 8.3/8.4/9.1/
// 10.2, ISO/IEC 27001:2013 A.12.4.1/2/3 and A.12.3.1, NIST AI RMF GOVERN
// 1.2/1.4, MAP 1.1, MEASURE 1.1; each control lists the table's rows in
// Features), and the current editions: ISO/IEC 27001:2022 with the
// 2013 → 2022 correspondence (Replaces, ReplacedBy), EU AI Act Art. 19 and
// 26(6), NIST SP 800-53 Rev. 5 AU-2/3/8/9/10/11/12 and RA-5.
//
// # Assessments
//
// Package compliance/assess judges a trail by a catalog; the result
// (Assessment) says for each control whether its evidence is present,
// partial, missing, or failed (contradicted), with the records that are
// the evidence; the gaps in the trail itself; and the open findings of
// other analyzers that fail a control. Reports carry it; the compliance
// analyzer (analyzer/compliance) records it as findings.
package compliance
