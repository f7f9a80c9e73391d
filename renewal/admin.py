from renewal.admin_subscriber import *  # noqa: E402,F401,F403  (issue 5: harassment reports)
