"""Writing statements, payroll files and exports: PDF, XLSX and CSV."""
