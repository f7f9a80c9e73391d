"""Messages of Django's own pages that Django's zh-hans catalogue leaves in English (or half English).

Nothing imports this module: makemessages reads these msgids from it, so they are in the portal's catalogue,
which comes before Django's (LOCALE_PATHS), and the admin speaks Chinese on every line.
"""

from django.utils.translation import gettext_noop

DJANGO_MESSAGES = (
    # the admin's index and app pages (table headers read by screen readers)
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    # the title of a page with a form error
    gettext_noop("Error:"),
    # the user admin
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    # the alternative text of the admin's yes/no icons (portal.apps)
    gettext_noop("Yes"),
    gettext_noop("No"),
    gettext_noop("Unknown"),
)
