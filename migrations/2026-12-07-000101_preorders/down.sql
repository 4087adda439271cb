ALTER TABLE products DROP COLUMN preorder_release_on;
