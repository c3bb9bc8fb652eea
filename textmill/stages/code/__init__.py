"""Stages for source code: they read the columns `textmill.code` defines (`lang`, `text`,
`path`), whatever reader made the rows."""
