"""CSV imports: files checked by a dry run, waiting for confirmation (not audited: the import is).

Revision ID: 0013
Revises: 0006
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")


def upgrade():
    op.create_table(
        'csv_uploads',
        sa.Column('upload_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('table_name', sa.String(length=63), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('encoding', sa.String(length=20), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.PrimaryKeyConstraint('upload_id', name=op.f('pk_csv_uploads')),
    )
    op.create_index(op.f('ix_csv_uploads_created_at'), 'csv_uploads', ['created_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_csv_uploads_created_at'), table_name='csv_uploads')
    op.drop_table('csv_uploads')
