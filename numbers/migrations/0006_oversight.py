# The oversight permissions (the roles are synced to them after migrate).
from django.db import migrations



class Migration(migrations.Migration):
    dependencies = [("numbers", "0005_sales")]

    operations = [
        migrations.AlterModelOptions(
            name="riskmark",
            options={
                "ordering": ["-placed_at"],
                "permissions": [
                    ("view_dashboard", "Can view the oversight dashboard"),
                    ("export_csv", "Can export admin lists as CSV"),
                ],
                "verbose_name": "risk mark",
                "verbose_name_plural": "risk marks",
            },
        ),
    ]
