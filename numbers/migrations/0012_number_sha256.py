from django.db import migrations, models

from numbers.phone import msisdn_sha256_sql


def fill(apps, schema_editor):
    """Hash the numbers already stored, in one UPDATE (SQLite uses the function the portal registers)."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("UPDATE numbers_phonenumber SET msisdn_sha256 = "
                       f"{msisdn_sha256_sql('msisdn', connection.vendor)} WHERE msisdn_sha256 IS NULL")


class Migration(migrations.Migration):

    dependencies = [
        ('numbers', '0011_oversight_scale'),
    ]

    operations = [
        migrations.AddField(
            model_name='phonenumber',
            name='msisdn_sha256',
            field=models.CharField(blank=True, editable=False, max_length=64, null=True, unique=True, verbose_name='SHA-256 of the number'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
