"""Attacks on a public server, tried through the real app (docs/security.md)."""
