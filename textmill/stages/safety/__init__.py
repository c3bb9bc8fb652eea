"""Safety stages: decontamination, toxic content, personal data."""
