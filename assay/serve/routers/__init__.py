"""The server's routes, one module per concern: health, models (catalogue, schema, report), predict, web."""
