"""Training-ready tokens: tokenize, pack, shuffle, one writer per trainer format."""
