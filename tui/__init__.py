"""The Textual desk over the engine. Talks to the engine only through its public API."""
