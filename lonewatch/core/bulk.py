"""Insert many rows at once: PostgreSQL's COPY where available, else bulk_create.

Escalating thousands of missed deadlines in one pass writes thousands of rows;
COPY skips the per-row SQL building that dominates Django's bulk_create there.
The rows' primary keys are not read back, so callers must not need them.
"""

from django.db import connection


def insert(model, objs: list) -> None:
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    for obj in objs:
        for field in fields:
            if getattr(obj, field.attname) is None and field.has_default():
                setattr(obj, field.attname, field.get_default())
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {table} ({columns}) FROM STDIN") as copy:
        for obj in objs:
            copy.write_row([field.get_db_prep_save(getattr(obj, field.attname), connection)
                            for field in fields])
