"""Fan-out of conversation events to open streams, in-process or across instances via Redis."""
