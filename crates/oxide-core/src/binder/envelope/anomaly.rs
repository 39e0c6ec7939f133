//! The anomaly triggers of `binder-anomaly/1` and what each fallback mode does about them.

use super::{Envelope, GateStatus, Signal};
use crate::workspace::config::FallbackMode;

/// An anomaly trigger of `binder-anomaly/1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Anomaly {
    /// `signal` is `error`: the wrapper could not decide.
    ErrorSignal,
    /// `fail` with no failing gate, or `pass` with a failing gate.
    GateSignalMismatch,
    /// `fail` or `deny` with an empty gate set.
    NoGates,
    /// `deny` without `policy_reason_code`.
    DenyWithoutPolicyReason,
}

impl Anomaly {
    pub fn code(self) -> &'static str {
        match self {
            Anomaly::ErrorSignal => "error_signal",
            Anomaly::GateSignalMismatch => "gate_signal_mismatch",
            Anomaly::NoGates => "no_gates",
            Anomaly::DenyWithoutPolicyReason => "deny_without_policy_reason",
        }
    }

    pub(super) fn quarantine_code(self) -> &'static str {
        match self {
            Anomaly::ErrorSignal => "BINDER_ANOMALY_ERROR_SIGNAL",
            Anomaly::GateSignalMismatch => "BINDER_ANOMALY_GATE_SIGNAL_MISMATCH",
            Anomaly::NoGates => "BINDER_ANOMALY_NO_GATES",
            Anomaly::DenyWithoutPolicyReason => "BINDER_ANOMALY_DENY_WITHOUT_POLICY_REASON",
        }
    }

    /// What the effective fallback mode does when this trigger fires.
    pub fn action(self, mode: FallbackMode) -> AnomalyAction {
        use AnomalyAction::*;
        use FallbackMode::*;
        match (self, mode) {
            (Anomaly::ErrorSignal, Strict | Hybrid) => BindOnly,
            (Anomaly::ErrorSignal, Lenient) => Derive,
            (_, Strict) => Quarantine,
            (_, Hybrid) => BindOnly,
            (_, Lenient) => Derive,
        }
    }
}

/// The response of a fallback mode to an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AnomalyAction {
    /// Derive as if there were no anomaly (marked inferred).
    Derive,
    /// Store the binding, derive nothing from it.
    BindOnly,
    /// Do not accept the envelope.
    Quarantine,
}

/// How strict a mode is: the effective mode is the stricter of the workspace's and the
/// envelope's.
fn rank(m: FallbackMode) -> u8 {
    match m {
        FallbackMode::Strict => 0,
        FallbackMode::Hybrid => 1,
        FallbackMode::Lenient => 2,
    }
}

pub fn mode_str(m: FallbackMode) -> &'static str {
    match m {
        FallbackMode::Strict => "strict",
        FallbackMode::Hybrid => "hybrid",
        FallbackMode::Lenient => "lenient",
    }
}

pub fn stricter(a: FallbackMode, b: FallbackMode) -> FallbackMode {
    if rank(a) <= rank(b) {
        a
    } else {
        b
    }
}

/// The anomaly triggers that fire for a (schema-valid) envelope, sorted.
pub fn anomalies(e: &Envelope) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let any_gate_failed = e.gates.iter().any(|g| g.status == GateStatus::Fail);
    match e.signal {
        Signal::Error => out.push(Anomaly::ErrorSignal),
        Signal::Fail => {
            if e.gates.is_empty() {
                out.push(Anomaly::NoGates);
            } else if !any_gate_failed {
                out.push(Anomaly::GateSignalMismatch);
            }
        }
        Signal::Pass => {
            if any_gate_failed {
                out.push(Anomaly::GateSignalMismatch);
            }
        }
        Signal::Deny => {
            if e.gates.is_empty() {
                out.push(Anomaly::NoGates);
            }
            if e.policy_reason_code.is_none() {
                out.push(Anomaly::DenyWithoutPolicyReason);
            }
        }
    }
    out.sort();
    out
}
