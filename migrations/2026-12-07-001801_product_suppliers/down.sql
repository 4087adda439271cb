DROP TABLE product_suppliers;
