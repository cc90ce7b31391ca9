"""HTTP routers, one module per resource. Every module here that defines ``router`` is mounted by the app."""
