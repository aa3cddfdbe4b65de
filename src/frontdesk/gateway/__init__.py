"""The HTTP surface: routers, the middleware pipeline, problem+json errors."""
