"""The HTTP face of labelloop: JSON API and the web pages, built by ``create_app(settings)``."""
