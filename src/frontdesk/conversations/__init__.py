"""Contacts, their channel identities, conversations, messages and leads."""
