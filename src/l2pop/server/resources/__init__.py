"""The API's resources as operations on the service: networks, subnets and IPAM,
ports, hosts and their tokens, remote endpoints; and the validation of their
bodies. Routes (``server.api``) parse the request and call these; these call
the store through :class:`~l2pop.server.service.Service` and never see HTTP."""
