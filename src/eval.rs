//! Evaluation-mode baselines computed from raw datasets (being written).
