"""Online region assessment on Ray Serve: SAM (or the classical fallback) → Seagull.

- ``serve.app``: the application — an HTTP ingress (``serve.gateway``) and the ``ImageStore``,
  ``Segmenter`` and ``Assessor`` deployments (``serve.deployments``) composed with deployment
  handles; ``serve.app:build_app`` is the application builder that ``serve run`` / ``serve
  deploy`` name. ``serve.settings`` holds what it takes, ``serve.openapi`` what the API
  document says of request bodies, ``serve.prompts`` and ``serve.images`` the request parsing.
- ``serve/config.yaml``: the production configuration, replica resources included;
  ``serve.local`` turns it into local deployment options for a small machine, with the
  replica resources of ``serve/local.yaml`` (fractional CPUs, no GPUs, one replica each).
- ``serve/static/``: the click-to-assess page served at ``/`` (static HTML/JS, no build step).

Everything that touches pixels or tensors is ``seagull``'s; this package parses requests,
caches per image, batches, and maps errors to HTTP answers.
"""
