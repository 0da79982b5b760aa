"""Operations: alerts, system status, backup and restore, the audit log, operator access."""
