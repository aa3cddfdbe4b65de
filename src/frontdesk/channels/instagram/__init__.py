"""Instagram Direct: an Instagram professional account's messages, through Meta's Messenger
Platform."""
