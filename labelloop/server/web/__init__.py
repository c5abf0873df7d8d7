"""The web pages: Jinja2 templates and plain JS/CSS, no build step, no CDN."""
