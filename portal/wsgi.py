import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
browsers = get_wsgi_application()

from portal.web.gateways import dispatch_gateways  # noqa: E402 (needs the apps loaded)

application = dispatch_gateways(browsers)

# Everything loaded so far (modules, URL patterns, templates: ~140,000 objects) lives as long
# as the process. Freezing it keeps the collector's full passes, which would otherwise walk
# all of it on some request every so often (tens of ms), down to what requests allocate.
gc.freeze()
