module odradek.test/control

go 1.21
