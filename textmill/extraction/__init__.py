"""textmill's own main-content extractor (the `extract` stage's `textmill` engine).

A page becomes blocks (leaf block elements and table rows, found by lexbor's selector matcher in
resiliparse's `HTMLTree`), every block gets a row of features at once (numpy), and a small
gradient-boosted tree ensemble trained by `textmill.extraction.train` and shipped as
`model.npz` keeps the main-content blocks. See README, "textmill's extractor".
"""

from textmill.extraction.engine import ExtractedPage, extract_page

__all__ = ["ExtractedPage", "extract_page"]
