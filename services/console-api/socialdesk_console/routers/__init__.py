"""The console's routes, one module per area, each a module-level `router` whose handlers
take the console context and the user through dependencies (deps.py); app.py includes
them."""
