from django.db import migrations



class Migration(migrations.Migration):
    dependencies = [
        ("numbers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    # The roles are synced after every migrate (numbers.apps: a post_migrate handler).
    operations = []
