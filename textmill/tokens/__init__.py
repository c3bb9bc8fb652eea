"""Training-ready output: a user's tokenizer (`tokenizer`), the tokenize job (`tokenize`), its
output formats (`formats/`) and its manifest (`manifest`)."""
