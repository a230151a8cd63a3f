"""Login security and default roles: lockout column, sessions, login rate windows, role-sync state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")


def upgrade():
    op.add_column('users', sa.Column('locked_until', sa.DateTime(), nullable=True))
    op.create_table(
        'user_sessions',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], name=op.f('fk_user_sessions_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_user_sessions')),
    )
    op.create_index(op.f('ix_user_sessions_user_id'), 'user_sessions', ['user_id'], unique=False)
    op.create_table(
        'login_rate_windows',
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('window_start', sa.DateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('address', 'window_start', name=op.f('pk_login_rate_windows')),
    )
    op.create_table(
        'security_synced_resources',
        sa.Column('name', sa.String(length=250), nullable=False),
        sa.Column('seen_at', sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_security_synced_resources')),
    )
    op.create_table(
        'default_roles',
        sa.Column('role_name', sa.String(length=255), nullable=False),
        sa.Column('created_at', sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.PrimaryKeyConstraint('role_name', name=op.f('pk_default_roles')),
    )
    op.create_table(
        'default_role_grants',
        sa.Column('role_name', sa.String(length=255), nullable=False),
        sa.Column('permission_name', sa.String(length=255), nullable=False),
        sa.Column('granted_at', sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.PrimaryKeyConstraint('role_name', 'permission_name', name=op.f('pk_default_role_grants')),
    )


def downgrade():
    op.drop_table('default_role_grants')
    op.drop_table('default_roles')
    op.drop_table('security_synced_resources')
    op.drop_table('login_rate_windows')
    op.drop_index(op.f('ix_user_sessions_user_id'), table_name='user_sessions')
    op.drop_table('user_sessions')
    op.drop_column('users', 'locked_until')
