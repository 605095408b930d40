"""Trust and safety: reports, the administrators' queue, hiding and restoring content, suspending accounts,
the audit log's reading and the operator's counts (decision 0031)."""
