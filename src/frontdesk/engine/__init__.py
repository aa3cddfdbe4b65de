"""Conversation engine: context packs, language detection and responders."""
