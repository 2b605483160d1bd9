"""The server as a process: the uvicorn runner and everything it uses of uvicorn
(one adapter), TLS contexts and their reloading, interpreter tuning (switch
interval, GC policy), logging setup and the store's command-line options."""
