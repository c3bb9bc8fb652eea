"""Clean-up of OCR'd and PDF-extracted books: documents whose `text` holds pages joined by "\f"
(form feed, pdftotext's page separator) and lines as the OCR gave them. Run the line-level
stages (running headers, front/back matter, de-hyphenation) before `unwrap_lines`, which turns
lines into paragraphs."""
