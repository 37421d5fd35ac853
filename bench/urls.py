from django.urls import path

from bench import views

urlpatterns = [
    path("bench/ping", views.PingView.as_view()),
    path("bench/sql-insert", views.SqlInsertView.as_view()),
    path("bench/naive-payment", views.NaivePaymentView.as_view()),
]
