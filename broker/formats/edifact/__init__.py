"""UN/EDIFACT syntax (ISO 9735) shared by the EDIFACT formats."""
