"""HTTP routers, one module a resource; ``mailcard.api.app.ROUTE_MODULES`` lists them."""
