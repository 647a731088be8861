"""The web app: a backend-for-frontend that logs users in and calls the API for them."""

import warnings

import authlib.deprecate  # noqa: F401 - installs Authlib's "always" filter, ours goes in front

# Authlib warns on import that its httpx integration is moving to an "httpx2" package.
# This app uses httpx itself, a dependency chosen on purpose, so the warning is only
# noise on every start-up; filtered here, before anything imports Authlib.
warnings.filterwarnings("ignore", message="The httpx module is deprecated")
