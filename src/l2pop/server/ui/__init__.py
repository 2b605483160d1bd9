"""The fabric view: a live page of the fabric served by the server at ``/ui/``."""
