"""Moving a space's models, data assets and deployments between spaces and servers, as an archive or directly."""
