# Placeholder owned by the cancellation-feed issue (#3): its schema changes go here.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("numbers", "0003_event_append_only")]
    operations = []
