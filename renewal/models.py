from renewal.models_subscriber import *  # noqa: E402,F401,F403
