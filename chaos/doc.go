// Package chaos holds the checkers of the fault-injection suite: the
// durability ledger, the linearizability check of shared keys (a register
// per key, checked with github.com/anishathalye/porcupine) and the
// per-round figures table. The suite itself, which starts real `vaultaire
// server` processes and applies the faults, is TestChaos in cmd/vaultaire
// (`make chaos`); this package knows nothing of processes or S3, so its
// checkers are tested on their own, with histories made to fail.
//
// # Ledger
//
// Every key the load writes is written once, with bytes that Payload derives
// from the key and a size, and perhaps deleted once later. The Ledger
// records what each request's outcome says about the key:
//
//	PUT acknowledged       the key must read back with exactly its bytes
//	PUT failed             unknown: it may exist; if it does, its bytes are exact
//	DELETE acknowledged    the key must answer NoSuchKey
//	DELETE failed          unknown: it may be gone; if not, its bytes are exact
//
// A failed request may still have taken effect (the answer was lost, not
// the write), so a failure never makes a key "absent".
//
// # Linearizability
//
// Shared keys see concurrent PUT, GET and DELETE from clients on every
// node. Each value is unique (Value names its writer and sequence), so a
// GET names the write it observed. A history of Ops is linearizable when
// each key's operations can be ordered, inside their [Call, Return]
// intervals, as a sequential register would take them. A PUT or DELETE
// whose answer was lost (Ambiguous) may have happened at any time after its
// call, or not at all: its return is taken as the end of time, where it can
// be ordered last and change nothing. Failed GETs observed nothing and are
// left out.
package chaos
