"""Reading spreadsheets and CSV files into record sets: mapping, parsing, validation."""
